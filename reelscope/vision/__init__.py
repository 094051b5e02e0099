"""Detectors over single images: faces, expressions, objects, saliency. Each returns Detections."""
