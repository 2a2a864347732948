"""Scanners for hostile or sensitive content: prompt injection, secrets, personal data and
dangerous arguments, composed into profiles and mapped to actions by guard policy."""
