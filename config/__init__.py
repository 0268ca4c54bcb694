"""Cluster configuration: the typed cluster file, its loader and the MPR_* environment."""

from config.cluster import (
    STAGE_NAMES,
    AdapterSpec,
    BaseModelSpec,
    Cluster,
    Decoding,
    KnowledgeConfig,
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
from config.nodes import NodeConfig

__all__ = [
    "LOCAL_CLUSTER",
    "STAGE_NAMES",
    "AdapterSpec",
    "BaseModelSpec",
    "Cluster",
    "ConfigError",
    "Decoding",
    "KnowledgeConfig",
    "LitellmTargetConfig",
    "MprEnvironment",
    "NodeConfig",
    "OpenAITargetConfig",
    "StageConfig",
    "StageName",
    "TargetConfig",
    "Tier",
    "WorkerConfig",
    "load_cluster",
]
