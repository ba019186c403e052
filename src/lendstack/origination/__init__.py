"""Origination: applicants, applications, data-source connectors, snapshots with provenance fingerprints, cross-checks."""
