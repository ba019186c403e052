"""Collections (催收) as one context: the strategy, its rules and the case state machine
(`domain`), the SQL that stores cases, actions, promises and messages (`repository`), and the use
cases the CLI, the API and the console call (`service`)."""
