"""Fraud checks: velocity, device, geo, odd-hour edits, identity graph, blacklists, multi-borrowing."""
