"""The instructor's cockpit, pure: the state of a class-grid cell and the stuck rule
(:mod:`.cells`), one-line errors normalised and clustered (:mod:`.errors`), hints unlocked
and pushed (:mod:`.hints`). No I/O: ``server/cockpit/`` reads the rows and delivers the
``(Audience, event)`` pairs."""
