"""The vc1 chip: spec, configuration, DAC codes, mismatch, noise, batched simulator."""
