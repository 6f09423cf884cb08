"""LightningModules (training systems) and callbacks.

Only systems/, data/ and tasks/ import Lightning.
"""
