"""The winter-2011 simulation: the platform's main job on a fresh machine (make demo)."""
