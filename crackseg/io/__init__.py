"""Bytes in, validated images out: safe decoding, archives, named inputs, allowed data paths.

Enters: file paths, uploaded bytes, ZIP archives, paths a user typed. Leaves: RGB
``uint8 (H, W, 3)`` arrays with their names, or one-line ``ImageLoadError`` /
``ArchiveError`` messages; resolved paths inside the operator's allowed folders.
Nothing a user uploads is unpickled or parsed with entity expansion.
"""
