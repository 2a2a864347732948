"""Pure decision logic: models, the policy language and its evaluator.

Nothing in this package performs I/O, reads the clock or the environment: every fact a
decision depends on, including ``now``, is an argument. That makes decisions
reproducible from an audit record and lets property tests explore them exhaustively.
"""
