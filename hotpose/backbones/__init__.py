"""Backbones: the embedding, stages and head of each video pose transformer."""
