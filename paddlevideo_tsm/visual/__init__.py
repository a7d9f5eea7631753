"""Seeing what a model does: one job per module.

- ``video_io``: an input's frames one at a time; frames written as MP4 (OpenCV) or GIF.
- ``annotate``: labels, scores and latency drawn onto frames (OpenCV text).
- ``cam``: Grad-CAM over a whole clip (and the clip as the model sees it); ``cam_cli`` its command line.
- ``heatmap``: heat maps upsampled, coloured and blended into frames, and tiled into one image.
- ``report``: the test report (per-class accuracy, confusion matrix, frequent confusions).
- ``curves``: per-epoch training curves (loss, top-1, learning rate) as CSV and PNG.
- ``plotting``: matplotlib with its headless backend, or a one-line error when it is missing.

Plots need matplotlib (``requirements-vis.txt``); everything else needs only OpenCV and numpy.
"""
