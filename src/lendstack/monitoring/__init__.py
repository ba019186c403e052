"""After the loan: early warning, collections, portfolio analytics, expected credit loss, model
monitoring, fairness and stress tests."""
