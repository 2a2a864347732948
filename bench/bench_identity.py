"""Identity micro-benchmarks: token issuance rate and verification cost.

``run(quick)`` returns medians and p99 per operation, each timed on its own with
``perf_counter_ns``:

- ``issue``: signing one RFC 9068 access token (EdDSA) - tokens per second;
- ``token_endpoint``: a full ``client_credentials`` request with a private_key_jwt
  assertion (assertion check, replay record and events in the SQLite store);
- ``verify_cached``: ``verify_access_token`` on a token already verified (target <= 2 us);
- ``verify_uncached``: first verification of distinct tokens, Ed25519, agent profile
  warm (target <= 100 us);
- ``ed25519_verify_openssl`` and ``ed25519_verify_libsodium``: the bare signature check
  with each library, for reference (ztgate verifies with libsodium).
"""

from __future__ import annotations

import math
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519

from ztgate.identity import AuthorizationServer, Registry, TokenSettings
from ztgate.identity._jose import parse_compact, public_jwk, sign_compact, verify_ed25519
from ztgate.store import open_store

TARGET_CACHED_US = 2.0
TARGET_UNCACHED_US = 100.0


def _stats(samples_ns: Sequence[int]) -> dict[str, float]:
    ordered = sorted(samples_ns)
    p99 = ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]
    mean = statistics.fmean(ordered)
    return {
        "n": len(ordered),
        "p50_us": round(ordered[len(ordered) // 2] / 1000, 3),
        "p99_us": round(p99 / 1000, 3),
        "mean_us": round(mean / 1000, 3),
        "per_s": round(1e9 / mean, 1) if mean else math.inf,
    }


def _time_each(fn: Callable[[Any], object], inputs: Sequence[Any]) -> list[int]:
    clock = time.perf_counter_ns
    out = []
    for item in inputs:
        start = clock()
        fn(item)
        out.append(clock() - start)
    return out


def _assertion(agent_id: str, key: ed25519.Ed25519PrivateKey, kid: str, aud: str) -> str:
    now = int(time.time())
    claims = {"iss": agent_id, "sub": agent_id, "aud": aud, "iat": now, "exp": now + 60}
    claims["jti"] = uuid.uuid4().hex
    return sign_compact({"alg": "EdDSA", "kid": kid}, claims, "EdDSA", key)


def run(quick: bool) -> dict[str, Any]:
    n = 2_000 if quick else 20_000
    n_endpoint = 100 if quick else 1_000
    with tempfile.TemporaryDirectory() as data:
        store = open_store(data)
        try:
            registry = Registry(store)
            settings = TokenSettings(issuer="https://ztgate.bench")
            server = AuthorizationServer(settings, registry)
            registry.create_agent("bench-bot", owners=["o"], sponsors=["s"], scopes=["read"])
            private = ed25519.Ed25519PrivateKey.generate()
            kid = registry.add_client_key("bench-bot", public_jwk(private.public_key())).kid
            now = datetime.now(UTC)
            server.keys.ensure(now)

            def issue(_: object) -> object:
                return server.issuer.issue(
                    subject="bench-bot", client_id="bench-bot", scopes=("read",), now=now
                )

            issue_ns = _time_each(issue, range(n))

            forms = [
                {
                    "grant_type": "client_credentials",
                    "client_assertion_type": (
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
                    ),
                    "client_assertion": _assertion(
                        "bench-bot", private, kid, settings.token_endpoint
                    ),
                }
                for _ in range(n_endpoint)
            ]
            endpoint_ns = _time_each(
                lambda form: server.token(form, now=datetime.now(UTC), source_ip="127.0.0.1"),
                forms,
            )

            tokens = [issue(None).token for _ in range(n)]  # type: ignore[attr-defined]
            verifier = server.verifier
            verify_now = datetime.now(UTC) + timedelta(seconds=1)
            verifier.verify_access_token(tokens[0], now=verify_now)  # warm agent and keys
            uncached_ns = _time_each(
                lambda t: verifier.verify_access_token(t, now=verify_now), tokens[1:]
            )
            hot = tokens[0]
            cached_ns = _time_each(
                lambda _: verifier.verify_access_token(hot, now=verify_now), range(n)
            )

            parsed = parse_compact(tokens[0], max_bytes=8192)
            signer = server.keys.snapshot().signer_key
            assert signer is not None
            public = signer.public_key()
            if not isinstance(public, ed25519.Ed25519PublicKey):
                raise TypeError("the bench expects an Ed25519 signing key")

            def raw_verify(_: object) -> None:
                public.verify(parsed.signature, parsed.signing_input)

            def raw_verify_sodium(_: object) -> None:
                if not verify_ed25519(public, parsed.signature, parsed.signing_input):
                    raise AssertionError("the bench token must verify")

            raw_ns = _time_each(raw_verify, range(n))
            sodium_ns = _time_each(raw_verify_sodium, range(n))
        finally:
            store.close()
    cached = _stats(cached_ns)
    uncached = _stats(uncached_ns)
    return {
        "issue": _stats(issue_ns),
        "token_endpoint": _stats(endpoint_ns),
        "verify_cached": cached,
        "verify_uncached": uncached,
        # The bare signature check two ways: OpenSSL through ``cryptography`` (what most
        # Python JWT libraries use) and libsodium, which ztgate verifies with.
        "ed25519_verify_openssl": _stats(raw_ns),
        "ed25519_verify_libsodium": _stats(sodium_ns),
        # What ztgate adds on top of the bare signature check: the part this code owns,
        # and the figure that depends least on how loaded the machine is.
        "uncached_overhead_over_ed25519_p50_us": round(
            uncached["p50_us"] - _stats(sodium_ns)["p50_us"], 3
        ),
        "token_bytes": len(tokens[0]),
        "targets": {
            "verify_cached_p50_us": TARGET_CACHED_US,
            "verify_uncached_p50_us": TARGET_UNCACHED_US,
            "verify_cached_met": cached["p50_us"] <= TARGET_CACHED_US,
            "verify_uncached_met": uncached["p50_us"] <= TARGET_UNCACHED_US,
        },
    }


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run("--quick" in sys.argv), indent=2))
