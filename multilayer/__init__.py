"""crystopo.multilayer: time-layered similarity networks, Leiden and Mapper clustering,
structure tracking, the analysis pipeline and the ``crystopo`` command line."""
