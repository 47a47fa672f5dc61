// Validate FIX frames with QuickFIX C++'s DataDictionary the way its Session does: admin messages
// against the transport dictionary, application messages against transport + application.
// usage: quickfix_validate FIXT11.xml FIX50SP2.xml < frames   (one hex-encoded frame a line)
// prints one line a frame: OK, or ERR and QuickFIX's reason.
#include <quickfix/DataDictionary.h>
#include <quickfix/Message.h>

#include <iostream>
#include <string>

static std::string unhex(const std::string& line) {
  std::string out;
  for (std::string::size_type i = 0; i + 1 < line.size(); i += 2)
    out.push_back(static_cast<char>(std::stoi(line.substr(i, 2), nullptr, 16)));
  return out;
}

int main(int argc, char** argv) {
  if (argc != 3) { std::cerr << "usage: quickfix_validate TRANSPORT APP < frames" << std::endl; return 2; }
  FIX::DataDictionary transport(argv[1]);
  FIX::DataDictionary application(argv[2]);
  std::string line;
  while (std::getline(std::cin, line)) {
    const std::string frame = unhex(line);
    try {
      const std::string::size_type at = frame.find("\x01" "35=") + 4;
      const std::string type = frame.substr(at, frame.find('\x01', at) - at);
      if (type.size() == 1 && std::string("012345A").find(type) != std::string::npos) {
        FIX::Message message(frame, transport, transport, true);
        transport.validate(message);
      } else {
        FIX::Message message(frame, transport, application, true);
        FIX::DataDictionary::validate(message, &transport, &application);
      }
      std::cout << "OK" << std::endl;
    } catch (std::exception& e) {
      std::cout << "ERR " << e.what() << std::endl;
    }
  }
  return 0;
}
