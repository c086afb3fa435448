"""KeyMask core: motion representation, skeleton, BVH, data, models (torch), backends (torch or numpy
at inference), generation, training, metrics.

Shape notation used in comments and names across the code base:
    B  batch
    T  frames (20 fps unless a function says otherwise)
    N  motion tokens (T // 4)
    Q  quantizer layers of the residual VQ-VAE
    J  joints (22 for the HumanML3D skeleton)
    D  feature channels (263 for the HumanML3D motion vector)

Units and axes: metres, Y up; a canonical motion starts at the origin facing +Z.
Quaternions are (w, x, y, z) and act on column vectors.
"""
