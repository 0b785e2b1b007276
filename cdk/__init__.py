"""The AWS deployment of My Little Image Sharer: one construct per concern, one stack."""
