#!/bin/sh
# Regenerates the media samples in this folder from ffmpeg's synthetic sources (see README.md).
# Debian 12: apt-get install ffmpeg (5.1.9-0+deb12u1: libvpx 1.12.0, libopus 1.3.1).
set -eu
cd "$(dirname "$0")"

# VP8: 2 s of testsrc2 at 640x360, 30 fps, ~500 kbit/s CBR, as a WebRTC encoder makes it
# (realtime, no lag, no hidden alt-ref frames, error resilient), keyframes at frames 0 and 30.
ffmpeg -hide_banner -loglevel error -y \
  -f lavfi -i "testsrc2=size=640x360:rate=30:duration=2" -threads 1 \
  -c:v libvpx -pix_fmt yuv420p -deadline realtime -cpu-used 8 -lag-in-frames 0 \
  -auto-alt-ref 0 -error-resilient 1 \
  -b:v 500k -minrate 500k -maxrate 500k -bufsize 500k -g 30 -keyint_min 30 \
  -fflags +bitexact -flags:v +bitexact -f ivf vp8-640x360-30fps.ivf

# Opus: 2 s of a 440 Hz sine, mono, 48 kHz, 20 ms frames, 32 kbit/s hard CBR, in Ogg.
ffmpeg -hide_banner -loglevel error -y \
  -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=2" -ac 1 \
  -c:a libopus -b:a 32k -vbr off -frame_duration 20 -application audio \
  -fflags +bitexact -flags:a +bitexact -f ogg opus-48k-20ms.ogg

sha256sum vp8-640x360-30fps.ivf opus-48k-20ms.ogg
