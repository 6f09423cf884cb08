"""Subjects: from a person's photos to what the pipeline animates.

Person detection and body fit, the cut-out and the background plate, the UV texture, and the
subject folder that holds them. Pure PyTorch/NumPy/OpenCV modules: no Lightning or Hydra here.
"""
