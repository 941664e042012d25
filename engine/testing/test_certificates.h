// A throwaway certificate authority and a server certificate it signed, for
// TLS tests: made with the openssl command in a directory of the test's.
#ifndef SOCKMAN_ENGINE_TESTING_TEST_CERTIFICATES_H_
#define SOCKMAN_ENGINE_TESTING_TEST_CERTIFICATES_H_

#include <cstdlib>
#include <string>

namespace sockman::testing {

// Writes into `dir`: ca.pem / ca.key (CN "sockman test CA"), and server.pem /
// server.key for localhost, 127.0.0.1 and ::1 (P-256, serverAuth), valid
// two days. Returns whether openssl succeeded.
inline bool MakeTestCertificates(const std::string& dir) {
  std::string command =
      "cd '" + dir + "' && (" +
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key "
      "-out ca.pem -days 2 -subj '/CN=sockman test CA' && "
      "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key "
      "-out server.csr -subj '/CN=localhost' && "
      "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\\nextendedKeyUsage=serverAuth\\n' "
      "> server.ext && "
      "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem "
      "-days 2 -extfile server.ext) >/dev/null 2>&1";
  return std::system(command.c_str()) == 0;
}

}  // namespace sockman::testing

#endif  // SOCKMAN_ENGINE_TESTING_TEST_CERTIFICATES_H_
