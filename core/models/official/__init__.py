"""Reading the official MoMask checkpoint layout (`checkpoints/<dataset>/<name>/opt.txt`,
`model/*.tar`, `meta/{mean,std}.npy`) into our models, strictly and without arbitrary pickle code."""
