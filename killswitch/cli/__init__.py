"""``ksctl``: thin click commands over the library, one module per verb."""
