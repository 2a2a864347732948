"""Adapters that put agent frameworks' tools behind a :class:`~ztgate.Gate`.

- :mod:`ztgate.integrations.langchain` - LangChain / LangGraph tools;
- :mod:`ztgate.integrations.openai_agents` - OpenAI Agents SDK function tools.

Install with ``pip install 'ztgate[integrations]'``. Each adapter authorizes every call
before the tool runs and scans what the tool returns; a refusal reaches the model as a
short "denied" result with a reason code (never the policy detail).
"""
