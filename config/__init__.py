"""Cluster configuration: the typed cluster file, its loader and the MPR_* environment."""

from config.cluster import (
    STAGE_NAMES,
    AdapterSpec,
    BaseModelSpec,
    Cluster,
    Decoding,
    StageConfig,
    StageName,
    Tier,
    WorkerConfig,
)
from config.environment import MprEnvironment
from config.loading import ConfigError, load_cluster

__all__ = [
    "STAGE_NAMES",
    "AdapterSpec",
    "BaseModelSpec",
    "Cluster",
    "ConfigError",
    "Decoding",
    "MprEnvironment",
    "StageConfig",
    "StageName",
    "Tier",
    "WorkerConfig",
    "load_cluster",
]
