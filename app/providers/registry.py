"""Which adapter speaks for which provider: an explicit dict per wire protocol, plus the two
providers that speak a protocol with their own URL scheme and authentication."""

from __future__ import annotations

from app.config.catalog import ProviderSpec
from app.config.enums import Protocol
from app.providers.anthropic_messages import AnthropicMessagesAdapter
from app.providers.base import ProviderAdapter
from app.providers.bedrock_converse import BedrockConverseAdapter
from app.providers.cohere_chat import CohereChatAdapter
from app.providers.gemini import GeminiAdapter, VertexAIAdapter
from app.providers.openai_chat import AzureOpenAIChatAdapter, OpenAIChatAdapter

PROTOCOLS: dict[Protocol, type[ProviderAdapter]] = {
    Protocol.OPENAI: OpenAIChatAdapter,
    Protocol.ANTHROPIC: AnthropicMessagesAdapter,
    Protocol.GEMINI: GeminiAdapter,
    Protocol.COHERE: CohereChatAdapter,
    Protocol.BEDROCK: BedrockConverseAdapter,
}

# Same body format, different URL and auth: Azure's deployment URL and `api-key`, Vertex's
# project/location path and OAuth token. Keyed by the catalog's provider name.
VARIANTS: dict[str, type[ProviderAdapter]] = {
    "azure_openai": AzureOpenAIChatAdapter,
    "vertex_ai": VertexAIAdapter,
}


def adapter_class(name: str, spec: ProviderSpec) -> type[ProviderAdapter]:
    """The adapter for this provider: its variant if it has one, else its protocol's."""
    return VARIANTS.get(name) or PROTOCOLS[spec.protocol]
