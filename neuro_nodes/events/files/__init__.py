"""Event files: streaming readers and writers, one ``EventArray`` chunk at a time.

| format | suffix | read | write | via |
|---|---|---|---|---|
| Prophesee RAW (EVT 2.0 / 3.0, ``%`` header) | ``.raw`` | yes | yes (EVT 3.0) | our codecs |
| Prophesee DAT | ``.dat`` | yes | no | faery |
| AEDAT4 (iniVation; events, IMU, triggers) | ``.aedat4`` | yes | yes (events) | faery |
| HDF5 (see :mod:`.hdf5` for the layouts) | ``.h5``, ``.hdf5`` | yes | yes (DSEC) | h5py |
| CSV ``t,x,y,p`` (µs, header) | ``.csv`` | yes | yes | faery |
| ECD ``events.txt`` (``t x y p``, t in seconds) | ``.txt`` | yes | no | faery |

RAW is read and written with our codecs, which keep trigger events.
Files are never loaded whole: readers yield chunks; writers take an iterable of chunks.
Sensor time in files is microseconds; ``EventArray.t`` is nanoseconds.
"""

from neuro_nodes.events.files.base import EventFileError, EventFileInfo, EventFileReader
from neuro_nodes.events.files.io import open_events, read_info, write_events

__all__ = ["EventFileError", "EventFileInfo", "EventFileReader", "open_events", "read_info",
           "write_events"]
