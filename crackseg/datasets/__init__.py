"""Labelled data: reading evaluation sets and building training sets.

Enters: dataset folders on disk (a YOLO ``data.yaml`` with polygon labels, image/mask
folder pairs such as DeepCrack, the survey-vehicle frames with crack and lane masks).
Leaves: ``LabelledImage`` items whose ground truth is ``(N, H, W)`` bool instance masks
(``labelled``), YOLO polygon label files made from binary masks (``mask_to_yolo``), and
the combined three-domain training set (``three_domain``), and damage boxes (YOLO boxes or
Pascal VOC, ``box_labels``) paired with street-view photos.
"""
