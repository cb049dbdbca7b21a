"""The provider simulator: every provider's wire format on one server, with fault injection.

URL rule: the simulated base URL of provider p is `http://host:port/{p}` + the path of p's real
base URL (openai -> …/openai/v1, anthropic -> …/anthropic, openrouter -> …/openrouter/api/v1).
"""

from app.simulator.app import SimulatorApp, create_simulator_app
from app.simulator.completion import Chat, Completion, complete, count_tokens, prompt_tokens
from app.simulator.faults import FaultProfile, FaultSettings, ProfileError, load_profile
from app.simulator.providers import DIALECTS, simulated_base_url, simulated_catalog
from app.simulator.server import SimulatorProcess, SimulatorServer, run_simulator

__all__ = [
    "DIALECTS",
    "Chat",
    "Completion",
    "FaultProfile",
    "FaultSettings",
    "ProfileError",
    "SimulatorApp",
    "SimulatorProcess",
    "SimulatorServer",
    "complete",
    "count_tokens",
    "create_simulator_app",
    "load_profile",
    "prompt_tokens",
    "run_simulator",
    "simulated_base_url",
    "simulated_catalog",
]
