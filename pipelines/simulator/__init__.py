"""The Tampuuri simulator: a faithful local stand-in for the API and its webhook sender."""

from pipelines.simulator.app import Simulator
from pipelines.simulator.config import AccountCredentials, FaultConfig, SimulatorConfig

__all__ = ["AccountCredentials", "FaultConfig", "Simulator", "SimulatorConfig"]
