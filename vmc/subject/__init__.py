"""Subjects: from a person's photos to what the pipeline animates.

Person detection and body fit, the cut-out and the background plate, the UV texture, and the
subject folder that holds them. Pure PyTorch/NumPy/OpenCV modules: no Lightning or Hydra here.
"""

from vmc.subject.detect import NoPersonError, PersonDetection, detect_person
from vmc.subject.fit import BodyFit, FitConfig, fit_body
from vmc.subject.folder import read_subject_folder, write_subject_folder
from vmc.subject.prepare import Subject, prepare_subject
from vmc.subject.texture import SubjectTexture, texture_from_photos
from vmc.subject.warp import SubjectRenderer, composite

__all__ = [
    "BodyFit",
    "FitConfig",
    "NoPersonError",
    "PersonDetection",
    "Subject",
    "SubjectRenderer",
    "SubjectTexture",
    "composite",
    "detect_person",
    "fit_body",
    "prepare_subject",
    "read_subject_folder",
    "texture_from_photos",
    "write_subject_folder",
]
