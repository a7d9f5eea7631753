"""Random draws from a sample's own numpy Generator (results['rng']) or numpy's global RNG."""
import numpy as np


def randint(rng, low, high):
    """One int uniform in [low, high); ``rng`` is a numpy Generator or None (global RNG)."""
    if rng is None:
        return int(np.random.randint(low, high))
    return int(rng.integers(low, high))


def uniform(rng):
    """One float uniform in [0, 1)."""
    if rng is None:
        return float(np.random.random())
    return float(rng.random())
