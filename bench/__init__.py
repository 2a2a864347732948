"""ztgate's benchmark harness: ``python -m bench`` (``make bench``).

See ``docs/benchmarks.md`` for the method, the peer policies and the numbers.
"""
