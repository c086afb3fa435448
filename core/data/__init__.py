"""Training data: the Bandai Namco mocap archives turned into a HumanML3D-style dataset."""
