"""Packaged pretrained weights (see README.md here); data files only."""
