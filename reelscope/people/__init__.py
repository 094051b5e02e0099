"""Face tracks, characters (clustered tracks), the identity gallery and labeling."""
