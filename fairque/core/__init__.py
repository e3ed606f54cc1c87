"""Core building blocks shared by every face of fairque: models, config, keys, codec, errors."""
