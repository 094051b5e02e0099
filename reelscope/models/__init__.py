"""Model registry (spec, resolve, verify) and the networks reelscope runs itself."""
