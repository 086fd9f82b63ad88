"""RGB arrays in, ``CrackPrediction`` out: model loading, backends, preprocessing, tiling, the segmenter.

Enters: RGB ``uint8 (H, W, 3)`` images and ``InferenceSettings``. Leaves:
``CrackPrediction`` (instance masks at the image's size, boxes, confidences); also
the run-time INT8 lookup (is there a usable INT8 model for these weights?) and the
Ultralytics validator call, the two things the higher stages need of a model.
"""
