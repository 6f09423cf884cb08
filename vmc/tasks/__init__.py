"""Importable task functions called by train.py, finetune.py, infer.py and the tests."""
