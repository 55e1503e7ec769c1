package dev.strata.embeddeddb;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;

import org.h2.mvstore.MVStore;
import org.h2.mvstore.MVStoreException;

import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.backend.h2.H2Backend;

/**
 * Runs mongo-java-server with its H2 backend as a child process of the Node server.
 *
 * <p>Protocol with the parent, one line each on standard output:
 * {@code READY mongodb://host:port} once it listens, or {@code LOCKED <path>} (exit 3) when another
 * process holds the database file. The process ends when its standard input closes, so it never
 * outlives its parent, even one killed with SIGKILL; SIGTERM shuts down cleanly as well.
 */
public final class Launcher {

    static final int EXIT_LOCKED = 3;
    static final int EXIT_USAGE = 2;

    private Launcher() {
    }

    public static void main(String[] args) throws Exception {
        String file = null;
        String host = "127.0.0.1";
        int port = 0;
        boolean stock = false;
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--stock")) {
                stock = true;
                continue;
            }
            if (i + 1 >= args.length) {
                usage("missing value for " + args[i]);
            }
            switch (args[i]) {
                case "--file" -> file = args[++i];
                case "--host" -> host = args[++i];
                case "--port" -> port = Integer.parseInt(args[++i]);
                default -> usage("unknown option " + args[i]);
            }
        }
        if (file == null) {
            usage("--file is required");
        }
        Files.createDirectories(Path.of(file).toAbsolutePath().getParent());

        MVStore store;
        try {
            store = new MVStore.Builder().fileName(file).open();
            // commit twice as often as H2's default (1 s) to narrow what a crash of this process loses
            store.setAutoCommitDelay(200);
        } catch (MVStoreException e) {
            if (e.getMessage() != null && e.getMessage().contains("locked")) {
                System.out.println("LOCKED " + file);
                System.out.flush();
                System.exit(EXIT_LOCKED);
            }
            throw e;
        }
        // --stock runs the library unchanged (for benchmarks); the default adds indexes (StrataBackend)
        H2Backend backend = stock ? new H2Backend(store) : new StrataBackend(store);
        MongoServer server = new MongoServer(backend);
        server.bind(host, port);
        InetSocketAddress address = server.getLocalAddress();

        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            server.shutdownNow();
        }, "shutdown"));

        System.out.println("READY mongodb://" + address.getHostString() + ":" + address.getPort());
        System.out.flush();

        waitForEndOfInput(System.in);
        System.exit(0);
    }

    /** Blocks until the parent closes our standard input (or dies). */
    private static void waitForEndOfInput(InputStream in) {
        byte[] buffer = new byte[256];
        try {
            while (in.read(buffer) != -1) {
                // the parent never writes; anything it sends is ignored
            }
        } catch (IOException e) {
            // a broken pipe means the parent is gone as well
        }
    }

    private static void usage(String message) {
        System.err.println("strata-embedded-db: " + message);
        System.err.println("usage: Launcher --file <h2 file> [--host 127.0.0.1] [--port 0] [--stock]");
        System.exit(EXIT_USAGE);
    }
}
