from ..utils.registry import Registry

METRICS = Registry("metric")
