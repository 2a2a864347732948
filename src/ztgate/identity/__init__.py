"""Agent identity: registry, credentials without stored secrets, tokens, verification.

Public surface:

- :class:`Registry` - agents, blueprints, client keys, federation trusts;
- :class:`AuthorizationServer` - the OAuth token endpoint logic, metadata and JWKS;
- :class:`TokenVerifier` and :class:`VerifiedPrincipal` - the one verification call;
- :class:`TokenSettings`, :class:`SigningKeys`, :class:`TokenIssuer`.
"""

from ztgate.identity.authorization import AuthorizationServer, OAuthError
from ztgate.identity.conditions import AccessConditions
from ztgate.identity.federation import FederationVerifier
from ztgate.identity.registry import AgentProfile, Registry
from ztgate.identity.signing import SigningKeys
from ztgate.identity.tokens import IssuedToken, TokenIssuer, TokenSettings
from ztgate.identity.verify import TokenVerifier, VerifiedPrincipal

__all__ = [
    "AccessConditions",
    "AgentProfile",
    "AuthorizationServer",
    "FederationVerifier",
    "IssuedToken",
    "OAuthError",
    "Registry",
    "SigningKeys",
    "TokenIssuer",
    "TokenSettings",
    "TokenVerifier",
    "VerifiedPrincipal",
]
