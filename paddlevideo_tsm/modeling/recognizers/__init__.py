from .recognizer2d import Recognizer2D, num_classes_of  # noqa: F401
