sampler s { step 1e-3 }
