"""Low-level helpers every package may import (data/, video/, frame_store/, plugins/); nothing here imports them."""
