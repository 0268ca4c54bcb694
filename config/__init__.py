"""Cluster configuration: the typed cluster file, its loader and the MPR_* environment."""

from config.cluster import (
    STAGE_NAMES,
    AdapterSpec,
    BaseModelSpec,
    Cluster,
    Decoding,
    LitellmTargetConfig,
    OpenAITargetConfig,
    StageConfig,
    StageName,
    TargetConfig,
    Tier,
    WorkerConfig,
)
from config.environment import MprEnvironment
from config.loading import LOCAL_CLUSTER, ConfigError, load_cluster

__all__ = [
    "LOCAL_CLUSTER",
    "STAGE_NAMES",
    "AdapterSpec",
    "BaseModelSpec",
    "Cluster",
    "ConfigError",
    "Decoding",
    "LitellmTargetConfig",
    "MprEnvironment",
    "OpenAITargetConfig",
    "StageConfig",
    "StageName",
    "TargetConfig",
    "Tier",
    "WorkerConfig",
    "load_cluster",
]
