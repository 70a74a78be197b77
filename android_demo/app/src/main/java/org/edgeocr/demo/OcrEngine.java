package org.edgeocr.demo;

import android.content.res.AssetManager;
import android.graphics.Bitmap;

import org.json.JSONArray;
import org.json.JSONException;
import org.json.JSONObject;

import java.io.File;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/** The JNI bridge to the C++ core (android_demo/cpp): one native pipeline per instance. Not thread-safe. */
public final class OcrEngine implements AutoCloseable {
    static {
        System.loadLibrary("edge_ocr_jni");
    }

    /** One recognised line: its quadrilateral (x0, y0, ... x3, y3) in image pixels, text and score. */
    public static final class Line {
        public final float[] box;
        public final String text;
        public final float score;

        Line(float[] box, String text, float score) {
            this.box = box;
            this.text = text;
            this.score = score;
        }
    }

    /** Lines plus the core's stage timings (milliseconds). */
    public static final class Result {
        public final List<Line> lines = new ArrayList<>();
        public double detMs, clsMs, recMs, totalMs;
    }

    private long handle;

    /**
     * Loads the bundle's det/cls/rec .nb files. The core refuses a bundle whose manifest names another opt
     * version than the Paddle Lite library in the APK unless {@code force} is set.
     */
    public OcrEngine(String bundleDir, int threads, int powerMode, boolean useCls, boolean force) {
        handle = nativeCreate(bundleDir, threads, powerMode, useCls, force);
    }

    public Result run(Bitmap bitmap) throws JSONException {
        if (handle == 0) throw new IllegalStateException("engine closed");
        int width = bitmap.getWidth(), height = bitmap.getHeight();
        int[] argb = new int[width * height];
        bitmap.getPixels(argb, 0, width, 0, 0, width, height);
        // UTF-8 bytes, not a jstring: NewStringUTF takes modified UTF-8, which differs for characters outside the BMP.
        JSONObject json = new JSONObject(new String(nativeRun(handle, argb, width, height), StandardCharsets.UTF_8));
        Result result = new Result();
        JSONArray lines = json.getJSONArray("lines");
        for (int i = 0; i < lines.length(); i++) {
            JSONObject line = lines.getJSONObject(i);
            JSONArray points = line.getJSONArray("box");
            float[] box = new float[8];
            for (int p = 0; p < 4; p++) {
                box[2 * p] = (float) points.getJSONArray(p).getDouble(0);
                box[2 * p + 1] = (float) points.getJSONArray(p).getDouble(1);
            }
            result.lines.add(new Line(box, line.getString("text"), (float) line.getDouble("score")));
        }
        JSONObject timings = json.getJSONObject("timings_ms");
        result.detMs = timings.getDouble("det");
        result.clsMs = timings.getDouble("cls");
        result.recMs = timings.getDouble("rec");
        result.totalMs = timings.getDouble("total");
        return result;
    }

    @Override
    public void close() {
        if (handle != 0) {
            nativeRelease(handle);
            handle = 0;
        }
    }

    /** Copies assets/bundle (made by {@code edge-ocr export --target arm}) to a folder the core can open. */
    public static File installBundle(AssetManager assets, File filesDir) throws IOException {
        File dir = new File(filesDir, "bundle");
        if (!dir.isDirectory() && !dir.mkdirs()) throw new IOException("cannot create " + dir);
        String[] names = assets.list("bundle");
        if (names == null || names.length == 0) {
            throw new IOException("no bundle in the APK's assets: run android_demo/scripts/copy_bundle.sh first");
        }
        byte[] buffer = new byte[1 << 16];
        for (String name : names) {
            File target = new File(dir, name);
            File partial = new File(dir, name + ".part");  // renamed when complete: no half-written model
            try (InputStream in = assets.open("bundle/" + name); OutputStream out = new FileOutputStream(partial)) {
                int n;
                while ((n = in.read(buffer)) > 0) out.write(buffer, 0, n);
            }
            if (!partial.renameTo(target)) throw new IOException("cannot write " + target);
        }
        return dir;
    }

    private static native long nativeCreate(String bundleDir, int threads, int powerMode, boolean useCls,
                                            boolean force);

    private static native byte[] nativeRun(long handle, int[] argb, int width, int height);

    private static native void nativeRelease(long handle);
}
