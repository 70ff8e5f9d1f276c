# frame_bench (bench/media/frame_bench.cc): RTP receive-to-frame packets/s (depacketize + jitter buffer + assembly)
# for VP8 and H.264, VP8 packetizing, and libvpx/libopus encode/decode rates for reference. Included by
# bench/media/CMakeLists.txt.
if(TARGET tandem_media)
  add_executable(frame_bench ${CMAKE_CURRENT_LIST_DIR}/frame_bench.cc)
  target_link_libraries(frame_bench PRIVATE tandem_media benchmark::benchmark)
endif()
