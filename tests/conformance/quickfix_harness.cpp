// A QuickFIX C++ initiator driven by a `kalshi-fixsim client-config --engine quickfix` file, with
// the logon hook of docs/clients.md: logs on, sends one request, prints what comes back.
#include <quickfix/Application.h>
#include <quickfix/Log.h>
#include <quickfix/MessageStore.h>
#include <quickfix/Session.h>
#include <quickfix/SessionSettings.h>
#include <quickfix/ThreadedSSLSocketInitiator.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <thread>

#include "kalshi_signature.h"

class Application : public FIX::Application {
 public:
  explicit Application(EVP_PKEY* key) : key_(key) {}
  EVP_PKEY* key_;
  std::atomic<bool> logged_on{false};
  std::atomic<int> reports{0};
  FIX::SessionID session;
  void onCreate(const FIX::SessionID& id) override { session = id; }
  void onLogon(const FIX::SessionID&) override { logged_on = true; std::cout << "LOGON" << std::endl; }
  void onLogout(const FIX::SessionID&) override { std::cout << "LOGOUT" << std::endl; }
  void toAdmin(FIX::Message& message, const FIX::SessionID&) override;
  void toApp(FIX::Message&, const FIX::SessionID&) throw(FIX::DoNotSend) override {}
  void fromAdmin(const FIX::Message& m, const FIX::SessionID&)
      throw(FIX::FieldNotFound, FIX::IncorrectDataFormat, FIX::IncorrectTagValue, FIX::RejectLogon) override {
    std::cout << "ADMIN " << m.getHeader().getField(35) << std::endl;
  }
  void fromApp(const FIX::Message& m, const FIX::SessionID&)
      throw(FIX::FieldNotFound, FIX::IncorrectDataFormat, FIX::IncorrectTagValue, FIX::UnsupportedMessageType) override {
    std::cout << "APP " << m.getHeader().getField(35) << " 150=" << (m.isSetField(150) ? m.getField(150) : "")
              << " 268=" << (m.isSetField(268) ? m.getField(268) : "") << std::endl;
    ++reports;
  }
};

#include "toAdmin.cpp"

template <class F> bool wait_for(F done, int seconds) {
  for (int i = 0; i < seconds * 20 && !done(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  return done();
}

int main(int argc, char** argv) {
  if (argc != 5) { std::cerr << "usage: harness SETTINGS KEY SYMBOL order|md" << std::endl; return 2; }
  const std::string mode = argv[4];
  try {
    FIX::SessionSettings settings(argv[1]);
    Application app(kalshi_load_key(argv[2]));
    FIX::MemoryStoreFactory store;
    FIX::ScreenLogFactory log(false, false, true);
    FIX::ThreadedSSLSocketInitiator initiator(app, store, settings, log);
    initiator.start();
    if (!wait_for([&] { return app.logged_on.load(); }, 15)) { std::cout << "NO LOGON" << std::endl; initiator.stop(true); return 1; }
    FIX::Message request;
    if (mode == "order") {  // NewOrderSingle: an ExecutionReport comes back
      request.getHeader().setField(35, "D");
      request.setField(11, "qf-1"); request.setField(38, "1"); request.setField(40, "2");
      request.setField(44, "40"); request.setField(54, "1"); request.setField(55, argv[3]);
      request.setField(59, "1");
    } else {  // MarketDataRequest, snapshot + updates: a W snapshot with its NoMDEntries group
      request.getHeader().setField(35, "V");
      request.setField(263, "1");
      FIX::Group symbols(146, 55);
      symbols.setField(55, argv[3]);
      request.addGroup(symbols);
    }
    FIX::Session::sendToTarget(request, app.session);
    bool got = wait_for([&] { return app.reports.load() > 0; }, 15);
    initiator.stop();
    return got ? 0 : 1;
  } catch (std::exception& e) {
    std::cout << "ERROR " << e.what() << std::endl;
    return 1;
  }
}
