"""Offline training of the LSTM forecaster: data split, Keras fit, honest evaluation, artifact writing."""
