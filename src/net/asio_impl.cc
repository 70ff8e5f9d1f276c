// The one translation unit that compiles Asio's (and Asio SSL's) non-template code: tandem_net builds with
// BOOST_ASIO_SEPARATE_COMPILATION (a PUBLIC definition, so every user of these headers agrees), which keeps
// each other file that includes Asio noticeably cheaper to compile.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
